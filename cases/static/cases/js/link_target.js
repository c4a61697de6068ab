'use strict';
// The link form's target: any record, found through the register's full-text search.
{
    const $ = django.jQuery;
    $(function() {
        const target = $('#id_target');
        target.select2({
            ajax: {
                url: target.data('url'),
                dataType: 'json',
                delay: 250,
                data: (params) => ({term: params.term}),
            },
            minimumInputLength: 2,
            width: '40em',
            language: document.documentElement.lang,
            placeholder: target.data('placeholder'),
        });
    });
}
